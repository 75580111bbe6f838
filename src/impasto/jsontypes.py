"""The type of a plain JSON value, written once.

Settings as metadata, checkpoints and the studio store them (``Settings.to_dict``), the
caller's part of a checkpoint, a manifest's row: each is a JSON object and says so with
:data:`JSONObject` instead of a mapping to ``Any``. The alias is recursive, for mypy and for
pydantic alike (the studio's request bodies are validated against it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from typing import TypeAlias

    JSONValue: TypeAlias = Union[  # noqa: UP007 (a string forward reference in a union)
        str, int, float, bool, list["JSONValue"], dict[str, "JSONValue"], None
    ]
else:  # the same, in the form pydantic resolves at run time
    from typing_extensions import TypeAliasType

    JSONValue = TypeAliasType(
        "JSONValue",
        Union[str, int, float, bool, list["JSONValue"], dict[str, "JSONValue"], None],  # noqa: UP007
    )

JSONObject = dict[str, JSONValue]
