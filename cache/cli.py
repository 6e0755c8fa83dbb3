"""``theanolite-cache``: inspect and manage the on-disk compile cache.

A thin layer over the store API: each subcommand parses its options, makes one or two
calls on ``CacheStore`` (store.py, maintenance.py) or bundle.py, and prints a table
or, with ``--json``, a JSON document on stdout. Problems go to stderr as one line.

Exit codes:
  0  success
  1  a problem was found or an operation failed: corrupt or unsafe entries (verify),
     broken entries left out of an export, a declined ``clear``, an unwritable cache
  2  usage error or bad input: bad options, a missing cache directory, an unknown or
     ambiguous key prefix, an unreadable or refused bundle, ``clear`` without
     ``--yes`` when stdin is not a terminal

The cache directory is ``--cache-dir``, else the one the compiler uses
(``resolve_cache_dir``): ``compiledir`` in ``$THEANOLITE_FLAGS``,
``$THEANOLITE_CACHE_DIR``, ``$XDG_CACHE_HOME/theanolite``, ``~/.cache/theanolite``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bundle import export_bundle, import_bundle
from .entry import EntryInfo
from .errors import BundleError, CacheError, KeyPrefixError
from .keys import diff_key_parts
from .store import CacheStore, resolve_cache_dir
from .units import format_age, format_size, parse_duration, parse_size

PROG = "theanolite-cache"
EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
SUMMARY_MIN_WIDTH = 20


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


# -- locating and opening the cache ---------------------------------------------------

def locate(args: argparse.Namespace) -> tuple[Path, str]:
    """The cache directory and why it was chosen (creates nothing)."""
    if getattr(args, "cache_dir", None):
        return Path(os.path.expanduser(args.cache_dir)).absolute(), "--cache-dir"
    from theanolite import config  # the flags the compiler itself would use

    root, reason = resolve_cache_dir(config.compiledir or None)
    return root, ("compiledir in $THEANOLITE_FLAGS" if reason == "compiledir flag"
                  else reason)


def open_store(args: argparse.Namespace, create: bool = False) -> CacheStore:
    root, reason = locate(args)
    if not create and not root.is_dir():
        raise UsageError(f"no cache directory at {root} ({reason})")
    return CacheStore(root)


# -- output helpers -------------------------------------------------------------------

def emit_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=True))


def clean(text: object) -> str:
    """Text from meta.json (which may come from a bundle) made safe for a terminal:
    control characters are shown escaped instead of being interpreted."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def print_table(headers: Sequence[str], rows: list[Sequence[str]],
                right: Sequence[int] = ()) -> None:
    """Columns padded to their widest cell; the last column is never padded and, on a
    terminal, is cut to the terminal width."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    room = None
    if sys.stdout.isatty():
        room = max(SUMMARY_MIN_WIDTH,
                   shutil.get_terminal_size().columns - sum(w + 2 for w in widths))
    for row in [headers, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        last = row[-1]
        if room is not None and len(last) > room:
            last = last[:room - 1] + "…"
        print("  ".join([*cells, last]).rstrip())


def when(t: float | None, now: float) -> str:
    if t is None:
        return "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    return f"{stamp} ({format_age(now - t)} ago)"


def last_used(info: EntryInfo, now: float) -> str:
    return "never" if info.hits == 0 else f"{format_age(now - info.last_used)} ago"


def file_line(path: str, rec: dict[str, Any]) -> str:
    size = rec.get("size")
    shown = format_size(size) if isinstance(size, int) else "size ?"
    return f"{clean(path)}  ({shown}, sha256 {clean(rec.get('sha256', '?'))[:16]}…)"


def info_json(info: EntryInfo) -> dict[str, Any]:
    return {"key": info.key, "path": str(info.path), "summary": info.summary,
            "size": info.size, "created": info.created, "last_used": info.last_used,
            "hits": info.hits}


# -- subcommands (each a few lines over the store API) --------------------------------

def cmd_dir(args: argparse.Namespace) -> int:
    root, reason = locate(args)
    if args.json:
        emit_json({"path": str(root), "reason": reason, "exists": root.is_dir()})
    else:
        print(f"{root}  ({reason}{'' if root.is_dir() else '; does not exist yet'})")
    return EXIT_OK


SORTS = {  # name -> (sort key, reverse): the default "used" is the order prune evicts in
    "used": (lambda i: (i.last_used, i.key), False),
    "age": (lambda i: (i.created, i.key), False),
    "size": (lambda i: (i.size, i.key), True),
    "hits": (lambda i: (i.hits, i.key), True),
}


def cmd_list(args: argparse.Namespace) -> int:
    store = open_store(args)
    by, descending = SORTS[args.sort]
    infos = sorted(store.entries(), key=by, reverse=descending != args.reverse)
    if args.json:
        emit_json([info_json(i) for i in infos])
        return EXIT_OK
    now = time.time()
    rows = [(i.key[:12], format_size(i.size), format_age(now - i.created),
             last_used(i, now), str(i.hits), clean(i.summary)) for i in infos]
    if rows:
        print_table(("KEY", "SIZE", "AGE", "LAST USED", "HITS", "SUMMARY"), rows,
                    right=(1, 2, 3, 4))
    total = sum(i.size for i in infos)
    print(f"{len(infos)} entries, {format_size(total)} in {store.root}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    store = open_store(args)
    doc = store.info(store.resolve_key(args.key))
    if args.diff:
        other = store.info(store.resolve_key(args.diff))
        doc["differs_from"] = {"key": other["key"], "parts": diff_key_parts(
            doc["meta"].get("key_parts", {}), other["meta"].get("key_parts", {}))}
    if args.json:
        emit_json(doc)
        return EXIT_OK
    meta, now = doc["meta"], time.time()
    rows = [("key", doc["key"]), ("path", doc["path"]),
            ("module", file_line(doc["module_path"], meta["module"])),
            ("C source", file_line(doc["c_source_path"], meta["c_source"])),
            ("summary", clean(doc["summary"])), ("size", format_size(doc["size"])),
            ("created", when(doc["created"], now)),
            ("last used", when(doc["last_used"], now) if doc["hits"] else "never"),
            ("hits", str(doc["hits"])), ("format", str(meta.get("format")))]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    print("key parts:")
    parts = meta.get("key_parts", {})
    print_table(("  NAME", "TYPE", "SIZE", "VALUE"), [
        ("  " + clean(name), str(p.get("type")), format_size(p.get("size", 0)),
         clean(p["value"]) if "value" in p else f"sha256 {str(p.get('sha256'))[:16]}…")
        for name, p in sorted(parts.items())], right=(2,))
    if "differs_from" in doc:
        diff = doc["differs_from"]
        print(f"differs from {diff['key'][:12]} in: {', '.join(diff['parts']) or 'nothing'}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from theanolite import config

    store = open_store(args)
    doc = {**store.stats(), "reason": locate(args)[1], "size_cap": config.cache_max_size}
    if args.json:
        emit_json(doc)
        return EXIT_OK
    now, cap = time.time(), doc["size_cap"]
    share = f", {100 * doc['total_bytes'] / cap:.0f}% of the cap" if cap else ""

    def count(name: str) -> str:
        return "not recorded" if doc[name] is None else str(doc[name])

    rows = [("cache dir", f"{doc['root']}  ({doc['reason']})"),
            ("entries", str(doc["entries"])),
            ("total size", f"{format_size(doc['total_bytes'])}{share}"),
            ("size cap", f"{format_size(cap)} (cache_max_size)"),
            ("hits", str(doc["hits"])), ("misses", count("misses")),
            ("compiles", count("compiles")),
            ("oldest", when(doc["oldest_created"], now)),
            ("newest", when(doc["newest_created"], now)),
            ("last used", when(doc["last_used"], now)),
            ("quarantined", str(doc["quarantined"])), ("temp items", str(doc["tmp"]))]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    return EXIT_OK


def cmd_clear(args: argparse.Namespace) -> int:
    store = open_store(args)
    infos = store.entries()
    if not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise UsageError("refusing to clear without --yes: stdin is not a terminal")
        print(f"Delete all {len(infos)} entries ({format_size(sum(i.size for i in infos))}) "
              f"in {store.root}? [y/N] ", end="", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("aborted; nothing deleted", file=sys.stderr)
            return EXIT_PROBLEM
    deleted = store.clear()
    if args.json:
        emit_json({"root": str(store.root), "deleted": deleted})
    else:
        print(f"deleted {deleted} entries from {store.root}")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    from theanolite import config

    store = open_store(args)
    max_bytes = args.max_size
    if max_bytes is None and args.older_than is None and args.unused_for is None:
        max_bytes = config.cache_max_size  # no rule given: enforce the configured cap
    removed = store.prune(max_bytes, args.older_than, args.unused_for, dry_run=args.dry_run)
    freed = sum(i.size for i in removed)
    if args.json:
        emit_json({"root": str(store.root), "dry_run": args.dry_run, "max_bytes": max_bytes,
                   "removed": [i.key for i in removed], "freed_bytes": freed})
        return EXIT_OK
    verb = "would remove" if args.dry_run else "removed"
    now = time.time()
    for i in removed:
        print(f"{verb}  {i.key[:12]}  {format_size(i.size):>9}  age {format_age(now - i.created)}"
              f"  last used {last_used(i, now)}")
    print(f"{verb} {len(removed)} entries, {format_size(freed)}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    store = open_store(args)
    report = store.verify()
    bad = bool(report.quarantined or report.unsafe)
    if args.json:
        emit_json({"root": str(store.root), "ok": report.ok, "quarantined": report.quarantined,
                   "unsafe": report.unsafe, "busy": report.busy})
        return EXIT_PROBLEM if bad else EXIT_OK
    for key, why in report.quarantined.items():
        print(f"corrupt      {key[:12]}  {clean(why)}; moved to {store.root / 'quarantine'}")
    for key, why in report.unsafe.items():
        print(f"unsafe       {key[:12]}  {clean(why)}; left in place, never loaded")
    for key in report.busy:
        print(f"busy         {key[:12]}  locked by another process; not checked")
    print(f"{len(report.ok)} ok, {len(report.quarantined)} quarantined, "
          f"{len(report.unsafe)} unsafe, {len(report.busy)} busy")
    return EXIT_PROBLEM if bad else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    store = open_store(args)
    keys = [store.resolve_key(k) for k in args.keys] or None
    report = export_bundle(store, args.bundle, keys, fmt=args.format)
    for key, why in report.skipped.items():
        print(f"{PROG}: warning: left out {key[:12]}: {clean(why)}", file=sys.stderr)
    if args.json:
        emit_json({"bundle": str(report.path), "keys": report.keys, "size": report.size,
                   "skipped": report.skipped})
    else:
        print(f"exported {len(report.keys)} entries to {report.path} "
              f"({format_size(report.size)})")
    return EXIT_PROBLEM if report.skipped else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    store = open_store(args, create=True)
    report = import_bundle(store, args.bundle)
    if args.json:
        emit_json({"root": str(store.root), "imported": report.imported,
                   "skipped": report.skipped})
    else:
        print(f"imported {len(report.imported)} entries into {store.root}; "
              f"skipped {len(report.skipped)} already present")
    return EXIT_OK


# -- argument parsing and the entry point ---------------------------------------------

def _checked(parse: Any) -> Any:
    """An argparse ``type`` that reports our own ValueError message."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = parse.__name__
    return convert


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the subcommand; SUPPRESS keeps a
    # subcommand's unset copy from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", metavar="PATH", default=argparse.SUPPRESS,
                        help="cache directory (default: as the compiler chooses it)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON instead of a table")
    parser = argparse.ArgumentParser(
        prog=PROG, description="Inspect and manage the theanolite compile cache.",
        epilog="exit codes: 0 ok, 1 problem found or operation failed, "
               "2 usage error or bad input", parents=[common])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("dir", cmd_dir, "where the cache is, and why")
    p = add("list", cmd_list, "one row per entry")
    p.add_argument("--sort", choices=sorted(SORTS), default="used",
                   help="used: least recently used first (default); age: oldest first; "
                        "size, hits: largest first")
    p.add_argument("--reverse", action="store_true", help="reverse the order")
    p = add("info", cmd_info, "everything about one entry")
    p.add_argument("key", metavar="KEY_OR_PREFIX")
    p.add_argument("--diff", metavar="OTHER", help="also name the key parts that differ")
    add("stats", cmd_stats, "totals, counters, size cap")
    p = add("clear", cmd_clear, "delete every entry")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p = add("prune", cmd_prune, "delete old, unused or least-recently-used entries "
                                "(no option: enforce cache_max_size)")
    p.add_argument("--max-size", type=_checked(parse_size), metavar="SIZE",
                   help="evict least-recently-used entries down to SIZE, e.g. 500MB")
    p.add_argument("--older-than", type=_checked(parse_duration), metavar="AGE",
                   help="delete entries created more than AGE ago, e.g. 7d")
    p.add_argument("--unused-for", type=_checked(parse_duration), metavar="AGE",
                   help="delete entries not used for AGE, e.g. 3d")
    p.add_argument("--dry-run", action="store_true", help="only say what would go")
    add("verify", cmd_verify, "rehash every entry; quarantine corrupt ones (exit 1 if any)")
    p = add("export", cmd_export, "write entries (default: all) to a .tar.gz or .zip bundle")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("keys", nargs="*", metavar="KEY")
    p.add_argument("--format", choices=("tar.gz", "zip"),
                   help="archive format (default: zip for *.zip, else tar.gz)")
    p = add("import", cmd_import, "verify a bundle completely, then add its entries")
    p.add_argument("bundle", metavar="BUNDLE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (never raises for a user's mistake)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error argparse already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    args.json = getattr(args, "json", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = args.func(args)
        except (UsageError, KeyPrefixError, BundleError) as e:
            code = _fail(e, EXIT_USAGE)
        except (CacheError, OSError) as e:
            code = _fail(e, EXIT_PROBLEM)
        except KeyboardInterrupt:
            code = 130
        finally:
            for w in caught:
                print(f"{PROG}: warning: {clean(w.message)}", file=sys.stderr)
    return code


def _fail(error: BaseException, code: int) -> int:
    if isinstance(error, BrokenPipeError):  # e.g. `theanolite-cache list | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # silence the flush at exit
        except (OSError, ValueError):
            pass
        return EXIT_PROBLEM
    print(f"{PROG}: error: {clean(error)}", file=sys.stderr)
    return code
