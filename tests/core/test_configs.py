import msgspec
import pytest

from clobflow.core.configs import convert_section
from clobflow.core.errors import ConfigError


class Inner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rate: float = 1.0

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ConfigError("rate", "must be > 0")


class Outer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: tuple[Inner, ...] = ()
    name: str = "x"


@pytest.mark.parametrize(
    "data,key",
    [
        ({"nmae": "y"}, "sec.nmae"),
        ({"name": 3}, "sec.name"),
        ({"items": [{"rate": 1}, {"rtae": 2}]}, "sec.items[1].rtae"),
        ({"items": [{"rate": "fast"}]}, "sec.items[0].rate"),
        ([1, 2], "sec"),
    ],
)
def test_errors_name_the_full_key(data, key):
    with pytest.raises(ConfigError) as ei:
        convert_section(data, Outer, "sec")
    assert ei.value.key == key


def test_post_init_errors_are_prefixed_and_good_data_converts():
    with pytest.raises(ConfigError) as ei:
        convert_section({"rate": -1}, Inner, "risk")
    assert ei.value.key == "risk.rate"
    assert convert_section({"items": [{"rate": 2}]}, Outer, "sec").items[0].rate == 2
