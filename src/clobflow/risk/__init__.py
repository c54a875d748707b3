"""Risk: pure pre-trade checks, a circuit breaker on execution failures and an equity kill
switch (DESIGN §1). No asyncio, network or venue imports; time is always passed in.

- ``config.RiskConfig``: the validated section (human units in config, integers in the engine).
- ``checks``: one pure function per reason code (``checks.Code``).
- ``breaker.CircuitBreaker``, ``kill_switch.KillSwitch``: the stateful guards.
- ``engine.RiskEngine``: runs the checks in a documented order; ``can_trade`` is the O(1) gate.
- ``view.RiskView``: the protocol the kernel implements for the checks to read.
"""

from clobflow.risk.breaker import BreakerState, CircuitBreaker
from clobflow.risk.checks import Code, Violation
from clobflow.risk.config import RiskConfig
from clobflow.risk.engine import RiskDecision, RiskEngine
from clobflow.risk.kill_switch import KillSwitch
from clobflow.risk.view import RiskView

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Code",
    "KillSwitch",
    "RiskConfig",
    "RiskDecision",
    "RiskEngine",
    "RiskView",
    "Violation",
]
