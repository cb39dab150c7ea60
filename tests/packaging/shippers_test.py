#!/usr/bin/env python3
"""ctest package.shippers: the shipper examples in packaging/shippers/ parse (TOML, YAML, Fluent
Bit's format), tail the right files, and read the event time from the field, in the format, that
the agent really writes: a real run of the agent (`ksight run --duration 2s --probes syscalls`)
gives the lines, each shipper's time field and format are applied to them with a small
reimplementation of that shipper's time parser, and the result must equal the record's own
ts_unix_nano to the nanosecond. The label templates (host.name, event.type) must resolve in the
same records.

Usage: shippers_test.py SOURCE_DIR KSIGHT_BINARY   (root: it runs the agent)
"""
import calendar
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, dig, skip  # noqa: E402

try:
    import yaml
except ImportError:
    skip("python3-yaml is not installed (tools/install-deps.sh test)")

LIVE = "/var/log/ksight/events.jsonl"
ROTATED = "/var/log/ksight/events.jsonl.1"
COMPRESSED = "/var/log/ksight/events.jsonl.2.gz"

DATE = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{2})", "d": r"(?P<d>\d{2})",
        "H": r"(?P<H>\d{2})", "M": r"(?P<M>\d{2})", "S": r"(?P<S>\d{2})"}
FRAC_ANY = r"(?P<frac>\d+)"
TZ_Z_OR_COLON = r"(?P<tz>Z|[+-]\d{2}:\d{2})"


def chrono_regex(fmt):
    """Vector's parse_timestamp (chrono strftime, parse side) -> regex."""
    out, i = "", 0
    table = {"%Y": DATE["Y"], "%m": DATE["m"], "%d": DATE["d"], "%H": DATE["H"],
             "%M": DATE["M"], "%S": DATE["S"], "%.f": r"\." + FRAC_ANY,
             "%.9f": r"\.(?P<frac>\d{9})", "%:z": r"(?P<tz>[+-]\d{2}:\d{2})",
             "%z": r"(?P<tz>[+-]\d{4})", "%T": f"{DATE['H']}:{DATE['M']}:{DATE['S']}",
             # RFC 3339: fraction optional, Z or an offset.
             "%+": (f"{DATE['Y']}-{DATE['m']}-{DATE['d']}T{DATE['H']}:{DATE['M']}:{DATE['S']}"
                    rf"(?:\.{FRAC_ANY})?{TZ_Z_OR_COLON}")}
    while i < len(fmt):
        for tok in sorted(table, key=len, reverse=True):
            if fmt.startswith(tok, i):
                out += table[tok]
                i += len(tok)
                break
        else:
            if fmt[i] == "%":
                raise ValueError(f"chrono specifier {fmt[i:i + 3]!r} not modelled here")
            out += re.escape(fmt[i])
            i += 1
    return out


def flb_regex(fmt):
    """Fluent Bit's strptime (%L = fraction of any length; %z also takes 'Z') -> regex."""
    table = {"%Y": DATE["Y"], "%m": DATE["m"], "%d": DATE["d"], "%H": DATE["H"],
             "%M": DATE["M"], "%S": DATE["S"], "%L": FRAC_ANY,
             "%z": r"(?P<tz>Z|[+-]\d{2}:?\d{2})",
             "%T": f"{DATE['H']}:{DATE['M']}:{DATE['S']}"}
    out, i = "", 0
    while i < len(fmt):
        tok = fmt[i:i + 2]
        if tok in table:
            out += table[tok]
            i += 2
        elif fmt[i] == "%":
            raise ValueError(f"strptime specifier {tok!r} not modelled here")
        else:
            out += re.escape(fmt[i])
            i += 1
    return out


def gotime_regex(layout):
    """Go's time.Parse reference layout -> regex."""
    table = [("2006", DATE["Y"]), ("01", DATE["m"]), ("02", DATE["d"]), ("15", DATE["H"]),
             ("04", DATE["M"]), ("05", DATE["S"]), (".999999999", rf"(?:\.{FRAC_ANY})?"),
             (".000000000", r"\.(?P<frac>\d{9})"), ("Z07:00", TZ_Z_OR_COLON),
             ("-07:00", r"(?P<tz>[+-]\d{2}:\d{2})")]
    out, i = "", 0
    while i < len(layout):
        for tok, rx in table:
            if layout.startswith(tok, i):
                out += rx
                i += len(tok)
                break
        else:
            out += re.escape(layout[i])
            i += 1
    return out


def to_unix_nano(regex, value):
    m = re.fullmatch(regex, value)
    if not m:
        return None
    g = m.groupdict()
    secs = calendar.timegm((int(g["Y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]),
                            int(g["S"]), 0, 0, 0))
    tz = g.get("tz") or "Z"
    if tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    frac = (g.get("frac") or "").ljust(9, "0")[:9]
    return secs * 1_000_000_000 + int(frac or 0)


def check_time(c, who, records, path, regex):
    bad = []
    for rec in records:
        value = dig(rec, path)
        got = to_unix_nano(regex, value) if isinstance(value, str) else None
        if got != rec["ts_unix_nano"]:
            bad.append(f"{'.'.join(path)}={value!r} -> {got} != ts_unix_nano {rec['ts_unix_nano']}")
    c.check(f"{who}: time from '{'.'.join(path)}' equals ts_unix_nano to the ns in all "
            f"{len(records)} real records", records and not bad, "; ".join(bad[:2]))


def check_globs(c, who, include, exclude):
    def matches(path):
        return (any(fnmatch.fnmatchcase(path, g) for g in include)
                and not any(fnmatch.fnmatchcase(path, g) or
                            fnmatch.fnmatchcase(os.path.basename(path), g) for g in exclude))
    c.check(f"{who}: tails {LIVE} and its rotated {ROTATED}", matches(LIVE) and matches(ROTATED),
            f"include {include} exclude {exclude}")
    c.check(f"{who}: skips compressed backups ({COMPRESSED})", not matches(COMPRESSED))


def check_field(c, who, records, path, what):
    missing = [r["event"]["type"] for r in records
               if not isinstance(dig(r, path), str) or not dig(r, path)]
    c.check(f"{who}: {what} '{'.'.join(path)}' is a non-empty string in every record",
            not missing, f"missing in {sorted(set(missing))}")


def vector(c, sdir, records):
    with open(os.path.join(sdir, "vector.toml"), "rb") as fh:
        cfg = tomllib.load(fh)
    c.check("vector.toml parses (tomllib)", True)
    srcs = [s for s in cfg.get("sources", {}).values() if s.get("type") == "file"]
    c.check("vector: one file source", len(srcs) == 1)
    check_globs(c, "vector", srcs[0].get("include", []), srcs[0].get("exclude", []))
    remap = [t for t in cfg.get("transforms", {}).values() if t.get("type") == "remap"]
    vrl = remap[0]["source"] if remap else ""
    c.check("vector: the whole record becomes the event (parse_json of .message)",
            re.search(r"^\s*\.\s*=\s*parse_json!\(string!\(\.message\)\)", vrl, re.M) is not None)
    m = re.search(r'^\s*\.timestamp\s*=\s*parse_timestamp!\(\.([\w.]+),\s*format:\s*"([^"]+)"\)',
                  vrl, re.M)
    if c.check("vector: .timestamp = parse_timestamp!(.FIELD, format: ...)", m is not None):
        check_time(c, "vector", records, m.group(1).split("."), chrono_regex(m.group(2)))
    for name, sink in cfg.get("sinks", {}).items():
        inputs = sink.get("inputs", [])
        c.check(f"vector: sink {name} reads the parsed events", inputs == ["ksight_parse"])
        for label, tmpl in (sink.get("labels") or {}).items():
            for path in re.findall(r"\{\{\s*([\w.]+)\s*\}\}", tmpl):
                check_field(c, f"vector loki label {label}", records, path.split("."), "field")
    kinds = {s.get("type") for s in cfg.get("sinks", {}).values()}
    c.check("vector: ships to Loki and Elasticsearch", {"loki", "elasticsearch"} <= kinds)
    labels = dig(cfg, ["sinks", "loki", "labels"]) or {}
    c.check("vector: Loki labels carry host.name", "{{ host.name }}" in labels.values())


def parse_fluent_bit(path):
    """Fluent Bit's classic format: [SECTION] headers, then 'Key  value' lines."""
    sections = []
    with open(path) as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if m := re.fullmatch(r"\[([A-Z_]+)\]", line):
                sections.append((m.group(1), {}))
                continue
            m = re.fullmatch(r"([\w.]+)\s+(.+)", line)
            if not m or not sections or not raw.startswith("    "):
                raise ValueError(f"{path}:{n}: not a 'Key value' line under a section: {raw!r}")
            sections[-1][1][m.group(1).lower()] = m.group(2).strip()
    return sections


def fluent_bit(c, sdir, records):
    try:
        conf = parse_fluent_bit(os.path.join(sdir, "fluent-bit.conf"))
        c.check("fluent-bit.conf parses", True)
    except (OSError, ValueError) as e:
        c.check("fluent-bit.conf parses", False, str(e))
        return
    service = dict(next((kv for s, kv in conf if s == "SERVICE"), {}))
    pfile = os.path.join(sdir, service.get("parsers_file", "?"))
    try:
        parsers = {kv.get("name"): kv for s, kv in parse_fluent_bit(pfile) if s == "PARSER"}
        c.check(f"fluent-bit: Parsers_File {os.path.basename(pfile)} parses", True)
    except (OSError, ValueError) as e:
        c.check("fluent-bit: Parsers_File parses", False, str(e))
        return
    inputs = [kv for s, kv in conf if s == "INPUT" and kv.get("name") == "tail"]
    if not c.check("fluent-bit: one tail input", len(inputs) == 1):
        return
    tail = inputs[0]
    check_globs(c, "fluent-bit", [tail.get("path", "")],
                [p.strip() for p in tail.get("exclude_path", "").split(",") if p.strip()])
    parser = parsers.get(tail.get("parser"))
    if c.check(f"fluent-bit: the input's parser {tail.get('parser')} is defined, format json",
               parser is not None and parser.get("format") == "json"):
        check_time(c, "fluent-bit", records, parser["time_key"].split("."),
                   flb_regex(parser["time_format"]))
        c.check("fluent-bit: Time_Keep On (the record keeps `time`)",
                parser.get("time_keep", "").lower() == "on")
    outputs = {kv.get("name"): kv for s, kv in conf if s == "OUTPUT"}
    c.check("fluent-bit: ships to Loki and Elasticsearch", {"loki", "es"} <= set(outputs))
    for name, kv in outputs.items():
        c.check(f"fluent-bit: output {name} matches the input's tag",
                fnmatch.fnmatchcase(tail.get("tag", ""), kv.get("match", "")))
    accessors = re.findall(r"\$(\w+)((?:\['[\w.]+'\])*)", outputs.get("loki", {}).get("labels", ""))
    paths = [[a] + re.findall(r"\['([\w.]+)'\]", rest) for a, rest in accessors]
    c.check("fluent-bit: Loki labels carry host.name", ["host", "name"] in paths)
    for p in paths:
        check_field(c, "fluent-bit loki label", records, p, "record accessor")


def otel(c, sdir, records):
    with open(os.path.join(sdir, "otelcol-filelog.yaml")) as fh:
        cfg = yaml.safe_load(fh)
    c.check("otelcol-filelog.yaml parses (YAML)", True)
    pipe = dig(cfg, ["service", "pipelines", "logs"]) or {}
    for kind in ("receivers", "processors", "exporters"):
        c.check(f"otel: every pipeline {kind[:-1]} is defined",
                pipe.get(kind) and set(pipe[kind]) <= set(cfg.get(kind, {})))
    c.check("otel: every service extension is defined",
            set(dig(cfg, ["service", "extensions"]) or []) <= set(cfg.get("extensions", {})))
    recv = [v for k, v in cfg.get("receivers", {}).items() if k.split("/")[0] == "filelog"]
    if not c.check("otel: one filelog receiver", len(recv) == 1):
        return
    check_globs(c, "otel", recv[0].get("include", []), recv[0].get("exclude", []))
    ops = recv[0].get("operators", [])
    jp = next((o for o in ops if o.get("type") == "json_parser"), None)
    ts = (jp or {}).get("timestamp", {})
    src = ts.get("parse_from", "")
    if c.check("otel: json_parser into attributes, timestamp from attributes.FIELD, gotime",
               jp is not None and jp.get("parse_to", "attributes") == "attributes"
               and src.startswith("attributes.") and ts.get("layout_type") == "gotime"):
        check_time(c, "otel", records, src.split(".")[1:], gotime_regex(ts["layout"]))
    cp = next((o for o in ops if o.get("type") in ("copy", "move")
               and o.get("to") == 'resource["host.name"]'), None)
    if c.check('otel: host.name goes to resource["host.name"]', cp is not None):
        check_field(c, "otel", records, cp["from"].split(".")[1:], "attribute")
    exporters = {k.split("/")[0] + ("/loki" if "loki" in k else "") for k in pipe.get("exporters", [])}
    c.check("otel: ships to Loki (OTLP) and Elasticsearch",
            {"otlphttp/loki", "elasticsearch"} <= exporters, str(exporters))


def main():
    src, binary = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        skip("needs root: it runs the agent for real lines")
    sdir = os.path.join(src, "packaging", "shippers")
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "events.jsonl")
        r = subprocess.run([binary, "run", "--duration", "2s", "--interval", "500ms",
                            "--output", out, "--probes", "syscalls"], capture_output=True,
                           text=True)
        if not c.check("the agent ran (ksight run --duration 2s --probes syscalls)",
                       r.returncode == 0, r.stderr.strip()[-300:]):
            c.finish()
        with open(out) as fh:
            records = [json.loads(line) for line in fh]
    types = sorted({rec["event"]["type"] for rec in records})
    c.check(f"real records of several types ({', '.join(types)})",
            {"agent.status", "agent.heartbeat", "syscall.stats"} <= set(types))
    for name, fn in (("vector", vector), ("fluent-bit", fluent_bit), ("otel", otel)):
        try:
            fn(c, sdir, records)
        except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError,
                yaml.YAMLError) as e:
            c.check(f"{name}: config readable", False, f"{type(e).__name__}: {e}")
    c.finish()


if __name__ == "__main__":
    main()
