"""Safe YAML reading that keeps line numbers and refuses aliases (no alias bombs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any



class YamlError(ValueError):
    """A YAML problem with a 0-based line."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


@dataclass
class Value:
    """A YAML value with the 0-based line and column it starts on.

    `data` is a str/int/float/bool/None for scalars, a list of Value, or a dict of
    key → (key line, Value). `raw` keeps a scalar's text exactly as written.
    """

    data: Any
    line: int
    column: int
    raw: str = ""
    kind: str = "scalar"  # scalar | seq | map
    flow: bool = False
    style: str = ""  # a scalar's style: "" plain, "|" literal, ">" folded, quotes
    key_columns: dict[str, int] = field(default_factory=dict)  # a mapping's key → 0-based column (for `--fix`)

    @property
    def text_line(self) -> int:
        """0-based line where a scalar's text starts (block scalars start below the indicator)."""
        return self.line + 1 if self.style in ("|", ">") else self.line


def load(text: str) -> Value | None:
    """Parse one YAML document into Values; raise YamlError on bad syntax or aliases."""
    import yaml  # about 25 ms, paid only when a file is actually parsed (not on a cache hit)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is several times faster
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line if mark else 0
        message = error.problem or "invalid YAML"
        if error.context:
            message += f" ({error.context})"
        raise YamlError(line, f"YAML syntax error: {message}") from None
    except yaml.YAMLError as error:
        raise YamlError(0, f"YAML syntax error: {error}") from None
    if node is None:
        return None
    return _convert(node, set())


def _convert(node: Any, seen: set[int]) -> Value:
    line, column = node.start_mark.line, node.start_mark.column
    if id(node) in seen:
        raise YamlError(line, "YAML aliases (*name) are not allowed in deck files")
    seen.add(id(node))
    if node.id == "scalar":
        return Value(_scalar(node), line, column, raw=node.value, style=node.style or "")
    if node.id == "sequence":
        items = []
        for child in node.value:
            if id(child) in seen:
                raise YamlError(line, "YAML aliases (*name) are not allowed in deck files")
            items.append(_convert(child, seen))
        return Value(items, line, column, kind="seq", flow=bool(node.flow_style))
    mapping: dict[str, tuple[int, Value]] = {}
    columns: dict[str, int] = {}
    for key_node, value_node in node.value:
        if id(key_node) in seen or id(value_node) in seen:
            raise YamlError(key_node.start_mark.line, "YAML aliases (*name) are not allowed in deck files")
        if key_node.id != "scalar":
            raise YamlError(key_node.start_mark.line, "mapping keys must be plain names")
        key = key_node.value
        if key == "<<":
            raise YamlError(key_node.start_mark.line, "YAML merge keys (<<) are not allowed in deck files")
        if key in mapping:
            raise YamlError(key_node.start_mark.line, f"duplicate field '{key}'")
        seen.add(id(key_node))
        mapping[key] = (key_node.start_mark.line, _convert(value_node, seen))
        columns[key] = key_node.start_mark.column
    return Value(mapping, line, column, kind="map", flow=bool(node.flow_style), key_columns=columns)


def _scalar(node: Any) -> Any:
    tag, value = node.tag, node.value
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return value.lower() in ("true", "yes", "on", "y")
    if tag.endswith(":int"):
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return value
    if tag.endswith(":float"):
        try:
            return float(value.replace("_", ""))
        except ValueError:
            return value
    return value
