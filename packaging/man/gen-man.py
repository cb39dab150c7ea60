#!/usr/bin/env python3
"""Write ksight(8) in roff from the binary's own help (CLI11 output), so the man page always
names the flags that the binary has.

Usage: gen-man.py BINARY VERSION > ksight.8
Every subcommand's `--help` is read, nested ones too (`config default`). The date is
SOURCE_DATE_EPOCH when set (reproducible builds), else today.
"""
import datetime
import os
import re
import subprocess
import sys

OPTION = re.compile(r"^\s{2}(-\S.*?)(?:\s{2,}(\S.*))?$")
SUBCOMMAND = re.compile(r"^\s{2}([a-z][\w-]*)(?:\s{2,}(\S.*))?$")
HELP_FLAGS = ("-h,--help", "--help-all")


def help_of(binary, words):
    out = subprocess.run([binary, *words, "--help"], check=True, capture_output=True, text=True)
    lines = out.stdout.splitlines()
    desc, usage, options, subs, section = "", "", [], [], None
    for line in lines:
        if line.startswith("Usage: "):
            usage = line[len("Usage: "):]
        elif line in ("Options:", "Subcommands:"):
            section = line
        elif not line.strip():
            continue
        elif section == "Options:" and (m := OPTION.match(line)):
            options.append((m.group(1), m.group(2) or ""))
        elif section == "Subcommands:" and (m := SUBCOMMAND.match(line)):
            subs.append((m.group(1), m.group(2) or ""))
        elif not usage and not desc:
            desc = line.strip()
    return desc, usage, options, subs


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def walk(binary, words, out):
    desc, usage, options, subs = help_of(binary, words)
    out.append((words, desc, usage, options, subs))
    for name, _ in subs:
        walk(binary, words + [name], out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen-man.py BINARY VERSION")
    binary, version = sys.argv[1], sys.argv[2]
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or None
    day = (datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc) if epoch
           else datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d")
    cmds = []
    walk(binary, [], cmds)
    top_desc = cmds[0][1]
    summary = top_desc.split(" - ", 1)[1] if " - " in top_desc else top_desc
    leaves = [c for c in cmds[1:] if not c[4]]

    w = []
    w.append(f'.TH KSIGHT 8 "{day}" "ksight {roff(version)}" "System Administration"')
    w.append(".SH NAME")
    w.append(f"ksight \\- {roff(summary)}")
    w.append(".SH SYNOPSIS")
    for words, _, usage, _, _ in leaves:
        w.append(f".B ksight {roff(' '.join(words))}")
        rest = usage.split(" ".join(["ksight"] + words), 1)[-1].strip()
        if rest:
            w.append(roff(rest))
        w.append(".br")
    w.append(".SH DESCRIPTION")
    w.append("ksight loads eBPF programs into the running kernel and writes what they see as JSON "
             "lines, one object per line: by default to")
    w.append(".IR /var/log/ksight/events.jsonl .")
    w.append("Its own diagnostics go to standard error (the journal under systemd), never into "
             "the event stream. As a service it runs from")
    w.append(".IR ksight.service ;")
    w.append("by hand, \\fBksight run \\-\\-output \\-\\fR prints the events on the terminal.")
    w.append(".SH OPTIONS")
    for flag, text in cmds[0][3]:
        w.append(".TP")
        w.append(f".B {roff(flag)}")
        w.append(roff(text))
    w.append(".SH COMMANDS")
    for words, desc, usage, options, subs in cmds[1:]:
        if subs:
            continue
        w.append(f'.SS "ksight {roff(" ".join(words))}"')
        w.append(roff(desc) if desc else roff(dict(cmds[0][4]).get(words[-1], "")))
        for flag, text in options:
            if flag in HELP_FLAGS:
                continue
            w.append(".TP")
            w.append(f".B {roff(flag)}")
            w.append(roff(text))
    w.append(".SH EXIT STATUS")
    w.append(".TP\n.B 0\nnormal stop (SIGINT, SIGTERM, \\-\\-duration)")
    w.append(".TP\n.B 1\ncannot run: missing privileges, unusable output, no probe could start")
    w.append(".TP\n.B 2\nbad flag or config; one line on standard error names it")
    w.append(".SH FILES")
    for path, text in (("/etc/ksight/ksight.toml", "the configuration (TOML); flags override it"),
                       ("/var/log/ksight/events.jsonl", "the events, one JSON object per line"),
                       ("/lib/systemd/system/ksight.service", "the systemd unit")):
        w.append(f".TP\n.I {path}\n{roff(text)}")
    w.append(".SH SEE ALSO")
    w.append(".BR systemctl (1),")
    w.append(".BR journalctl (1),")
    w.append(".BR bpftool (8)")
    print("\n".join(w))


if __name__ == "__main__":
    main()
