"""Dataclass configs on the command line, for every command: flags, layering, and resume checks.

One `--flag` per field, typed like its default, with the field's source comment as help; booleans
are `--name` / `--no-name`. Values are layered: defaults < `--config FILE.json` < flags; unknown keys
and wrong types are errors that say where the value came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

# Settings a resumed run may change: where the run folder now is, how many CPU threads and which
# device compute it. (A different thread count or device may change float rounding, so bit-exact
# resumes keep them; they do not change what the run computes.)
RESUME_FREE = ("out", "threads", "device")

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_bool(text: str) -> bool:
    """'true'/'false' (and 1/0, yes/no, on/off) as a bool; anything else is an error."""
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _BoolFlag(argparse.BooleanOptionalAction):
    """`--name` / `--no-name`; the older `--name false` spelling still works, with a deprecation note."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, **kw)
        self.nargs = "?"

    def __call__(self, parser, namespace, values, option_string=None):
        if values is None or option_string.startswith("--no-"):
            if values is not None:
                parser.error(f"{option_string} takes no value")
            return super().__call__(parser, namespace, None, option_string)
        try:
            value = parse_bool(values)
        except argparse.ArgumentTypeError as e:
            parser.error(f"{option_string}: {e} (or use {option_string} / --no-{option_string[2:]})")
        print(
            f"note: '{option_string} {values}' is deprecated; write "
            f"'{option_string if value else '--no-' + option_string[2:]}'",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, value)


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows a boolean as `--name, --no-name` (its optional legacy value is not advertised)."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if isinstance(action, _BoolFlag):
            return ", ".join(action.option_strings)
        return super()._format_action_invocation(action)

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if isinstance(action, _BoolFlag):
            return "[...]"
        return super()._format_args(action, default_metavar)


def field_help(cls: type) -> dict[str, str]:
    """Each field's help text: the comment beside it in the dataclass source (and comment lines under it)."""
    import inspect
    import io
    import tokenize

    helps: dict[str, list[str]] = {}
    current = None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(inspect.getsource(cls)).readline))
    except (OSError, TypeError, tokenize.TokenError):
        return {}
    names = {f.name for f in fields(cls)}
    line_start = True
    for tok in tokens:
        if tok.type == tokenize.NAME and line_start and tok.string in names:
            current = tok.string
            helps[current] = []
        elif tok.type == tokenize.COMMENT and current is not None:
            helps[current].append(tok.string.lstrip("#").strip())
        elif tok.type == tokenize.NAME and line_start and tok.string not in names:
            current = None  # a method or another statement: comments below are not field help
        line_start = tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
    return {k: " ".join(v) for k, v in helps.items() if v}


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One --flag per config field (except `skip`), typed like its default, with its source comment as help."""
    helps = field_help(cls)
    parser.formatter_class = _Help
    for f in fields(cls):
        if f.name in skip:
            continue
        flag = f"--{f.name.replace('_', '-')}"
        text = f"{helps.get(f.name, '')} (default: {f.default!r})".replace("%", "%%").strip()
        if isinstance(f.default, bool):
            parser.add_argument(flag, dest=f.name, default=None, action=_BoolFlag, help=text)
        else:
            parser.add_argument(flag, dest=f.name, type=type(f.default), default=None, help=text)


def overrides_of(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The config fields given on the command line (None for those not given)."""
    return {f.name: getattr(args, f.name, None) for f in fields(cls)}


def config_from(cls: type, file: str | None, overrides: dict[str, Any]):
    """Build a dataclass config: defaults, then a JSON file, then overrides. Unknown keys and wrong types are errors."""
    names = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    sources = []
    if file:
        try:
            loaded = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{file}: cannot read config ({e})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{file}: config must be a JSON object")
        sources.append((file, loaded))
    sources.append(("command line", {k: v for k, v in overrides.items() if v is not None}))
    for where, d in sources:
        for k, v in d.items():
            if k not in names:
                raise ValueError(f"{where}: unknown config key {k!r}")
            default = names[k].default
            if isinstance(default, bool) or not isinstance(default, (int, float, str)):
                ok = isinstance(v, type(default))
            elif isinstance(default, float):
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
                v = float(v) if ok else v
            else:
                ok = isinstance(v, type(default)) and not isinstance(v, bool)
            if not ok:
                raise ValueError(f"{where}: {k} must be {type(default).__name__}, got {v!r}")
            values[k] = v
    cfg = cls(**values)
    if hasattr(cfg, "validate"):
        try:
            cfg.validate()
        except ValueError as e:  # say where the bad value came from
            where = " + ".join(
                w for w, d in sources if d and (w != "command line" or any(v is not None for v in d.values()))
            )
            raise ValueError(f"{where or 'defaults'}: {e}") from None
    return cfg


def only_free_settings(args: argparse.Namespace, cls: type) -> bool:
    """True when `--resume` came with no --config and no setting a resume may not change."""
    return args.config is None and all(v is None for k, v in overrides_of(args, cls).items() if k not in RESUME_FREE)


def resume_overrides(args: argparse.Namespace, cls: type, saved: dict[str, Any], out: Path) -> dict[str, Any]:
    """`--resume --out DIR` alone: the run's own settings from its state, with the free ones given now."""
    names = {f.name for f in fields(cls)}
    merged = {k: v for k, v in saved.items() if k in names}
    merged.update({k: v for k, v in overrides_of(args, cls).items() if v is not None}, out=str(out))
    return merged


def config_diff(cls: type, saved: dict[str, Any], now: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{key: (saved value, requested value)} for every setting that differs, except RESUME_FREE.

    A setting added to `cls` after the run started counts as its default in the saved run."""
    defaults = {f.name: f.default for f in fields(cls)}
    saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    return {
        k: (saved.get(k), now.get(k))
        for k in sorted(set(saved) | set(now))
        if k not in RESUME_FREE and saved.get(k) != now.get(k)
    }


def refuse_changed_settings(cls: type, saved: dict[str, Any], now: dict[str, Any], source: Path | str) -> None:
    """Raise naming every setting that differs from the run being resumed."""
    diff = config_diff(cls, saved, now)
    if diff:
        lines = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"{source}: refusing to resume with a different configuration ({lines})")
