"""Execution: the order state machine and the execution clients behind one port.

Modules: ``orders`` (``Order``, ``OrderManager``: lifecycle, invariants, transition hook),
``client`` (``ExecutionClient``: the port every mode implements), ``sim_client``
(``SimExecutionClient``: latency + the simulated matching engine of ``clobflow.sim``),
``shadow_client`` (``ShadowExecutionClient``: records orders, executes nothing).

Only the execution client changes between backtest/paper (sim), shadow and live (a venue
client, later); the ``OrderManager`` and everything upstream stay the same.
"""
