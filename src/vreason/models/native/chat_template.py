"""transformers' chat-template rendering, without transformers: where a checkpoint keeps its template, the
sandboxed Jinja environment templates are rendered in, and the clean-up a conversation gets first.

Contract (each mirrors transformers 5, named where it lives there):
- `find_chat_template(root, processor_config)`: processor_config.json's "chat_template", else
  chat_template.json, else chat_template.jinja (+ additional_chat_templates/*.jinja, by name) — the order of
  `ProcessorMixin.from_pretrained`; a str, a {name: str} or None;
- `compiled(source)`: the template in utils/chat_template_utils.py's environment (ImmutableSandboxedEnvironment
  with trim_blocks, lstrip_blocks, loop controls, the `{% generation %}` tag; `tojson`, `raise_exception`,
  `strftime_now`, `namespace`, `dict`), compiled once per source;
- `template_messages(conversation)`: messages as dicts, None values dropped, OpenAI `image_url` parts as
  `image`, reasoning field aliases (processing_utils._normalize_conversations and chat_template_utils);
- `template_value(value)`: what a template may see of a value (JSON-like types rebuilt, others "<Type>").
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from vreason.errors import ModelLoadError
from vreason.models.native.tokenizer import read_json

_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


def find_chat_template(root: Path, processor_config: dict[str, Any]) -> Any:
    if processor_config.get("chat_template") is not None:
        return processor_config["chat_template"]
    extra = sorted((root / "additional_chat_templates").glob("*.jinja"))
    if (root / "chat_template.json").is_file():
        if extra:
            raise ModelLoadError(f"{root}: legacy chat_template.json next to additional_chat_templates/; keep one")
        return read_json(root / "chat_template.json", "the chat template")["chat_template"]
    templates = {path.stem: path.read_text(encoding="utf-8") for path in extra}
    if (root / "chat_template.jinja").is_file():
        templates["default"] = (root / "chat_template.jinja").read_text(encoding="utf-8")
    if list(templates) == ["default"]:
        return templates["default"]
    return templates or None


# -- transformers' chat-template environment (utils/chat_template_utils.py)
class _Generation(Extension):
    """`{% generation %}...{% endgeneration %}` marks assistant text for masks; rendering keeps the body as is."""

    tags = {"generation"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller: Any) -> str:
        return caller()


class _TemplateDict:
    """`dict(...)` in templates without the dict type's attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
        return dict.fromkeys(*args, **kwargs)


class _Namespace(jinja2.utils.Namespace):
    """Namespaces that refuse underscore-prefixed attributes (no reach into CPython internals)."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # Jinja's signature trick: `namespace(self=...)` works
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(f"a chat template may not store an underscore attribute ({name!r})")


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


_templates: dict[str, jinja2.Template] = {}


def compiled(source: str) -> jinja2.Template:
    if source not in _templates:
        if tuple(int(p) for p in jinja2.__version__.split(".")[:3] if p.isdigit()) < (3, 1, 6):
            raise ImportError(f"chat templates need jinja2>=3.1.6 (sandbox fixes); found {jinja2.__version__}")
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, loopcontrols]
        )
        env.filters["tojson"] = _tojson
        env.globals.update(raise_exception=_raise_exception, dict=_TemplateDict(), namespace=_Namespace,
                           strftime_now=lambda format: datetime.now().strftime(format))
        _templates[source] = env.from_string(source)
    return _templates[source]


def template_messages(conversation: Any) -> list[dict[str, Any]]:
    """transformers' clean-up of one conversation before rendering (processing_utils._normalize_conversations,
    chat_template_utils._normalize_chat_messages, _plain_template_data, _alias_reasoning_fields)."""
    messages = _dicts(getattr(conversation, "messages", conversation))
    chat = []
    for message in messages:
        if not isinstance(message, dict):
            raise TypeError(f"Chat messages should be dicts, dataclasses or pydantic models, but got {message!r}.")
        message = {k: v for k, v in message.items() if v is not None}
        if isinstance(message.get("content"), list):
            message["content"] = [_image_url(part) for part in message["content"]]
        message = template_value(message)
        reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        chat.append(message)
    return chat


def _image_url(part: Any) -> Any:
    """An OpenAI {"type": "image_url", "image_url": {"url": u}} part as transformers' {"type": "image", "url": u}."""
    if isinstance(part, dict) and part.get("type") == "image_url" and "image_url" in part:
        info = part["image_url"]
        return {"type": "image", "url": info.get("url", "") if isinstance(info, dict) else info}
    return part


def _dicts(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _dicts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dicts(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_dicts(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dicts(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):  # pydantic models, e.g. the OpenAI SDK's messages
        return _dicts(value.model_dump())
    return value


def template_value(value: Any) -> Any:
    """What a template may see: JSON-like values rebuilt from their base types, anything else a "<Type>" string."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    for base in (str, int, float):  # bool is an int and was returned above
        if isinstance(value, base):
            return getattr(base, f"__{base.__name__}__")(value)
    if isinstance(value, Mapping):
        return {template_value(k): template_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [template_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(template_value(v) for v in value)
    numpy = sys.modules.get("numpy")  # numpy scalars exist only if numpy was imported: never import it here
    if numpy is not None and isinstance(value, numpy.generic):
        return template_value(value.item())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: template_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):
        return template_value(value.model_dump())
    return f"<{type(value).__name__}>"
