"""The defect taxonomy of the inspection pack: which defect types exist and what they look like, from YAML.

The taxonomy decides the prompt (each type's description), the output schema (the allowed type names) and
the rows of the confusion matrix; `none` is reserved for a good part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vreason.errors import InvalidRequestError

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")
GOOD = "none"  # the class of a part without defects
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class DefectType:
    name: str
    description: str


@dataclass(frozen=True)
class Taxonomy:
    name: str
    part: str  # what is inspected, in words the prompt can use
    defects: tuple[DefectType, ...]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.defects]

    def describe(self) -> str:
        return "\n".join(f"- {d.name}: {d.description}" for d in self.defects)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and check a taxonomy file (default: the one shipped with the pack)."""
    import yaml

    path = Path(path or DEFAULT_TAXONOMY)
    if not path.is_file():
        raise InvalidRequestError(f"taxonomy file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InvalidRequestError(f"taxonomy {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("defects"), list) or not data["defects"]:
        raise InvalidRequestError(f"taxonomy {path} needs a non-empty 'defects' list of {{name, description}}")
    defects = []
    for entry in data["defects"]:
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        if not _NAME.match(name) or name == GOOD:
            raise InvalidRequestError(
                f"taxonomy {path}: defect name {name!r} must be lower case letters, digits, '-' or '_' "
                f"(at most 40) and not {GOOD!r}")
        if name in (d.name for d in defects):
            raise InvalidRequestError(f"taxonomy {path}: defect name {name!r} appears twice")
        defects.append(DefectType(name, str(entry.get("description", "")).strip() or name))
    return Taxonomy(str(data.get("name", path.stem)), str(data.get("part", "a manufactured part")), tuple(defects))
