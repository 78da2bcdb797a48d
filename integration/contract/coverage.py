"""Per-operation success coverage of the Schemathesis runs (integration/contract/run.sh).

Reads the lines hooks.py's after_call wrote (run, operationId, HTTP status; one per request; a run's
name starts with its gateway's, as in cms-rest), prints for every operation of each gateway how many
requests it got and how many of them were answered 2xx, in total and per run, and exits 1 when an
operation that declares a 2xx response in its gateway's contract never got one in any run: a success
path the fuzzer cannot reach is a success path it does not test.

GraphQL requests are counted under their root field (hooks.py: "discovery Query.myFeed", 200 for an
answer with data and no error, else the error's code); --require NAME (repeated) holds such a field,
or any operation, to the same rule: it must have been fuzzed and reached a success.

With --report-only it lists those operations without failing (run.sh: a fuzzing budget below CI's,
too short for the stateful chains that lead to some success paths), and with --missing FILE it
writes them there, one a line, for tools/testsummary.

Usage: python3 coverage.py [--report-only] [--missing FILE] [--require NAME]... COUNTS gen/openapi/bundle/<gateway>.json ...
"""
import collections
import json
import os
import sys


def declared_success(bundles):
    ops = {}
    for path in bundles:
        gateway = os.path.basename(path).split(".")[0]
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        for item in spec.get("paths", {}).values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    declared = any(str(code).startswith("2") for code in op.get("responses", {}))
                    ops[f"{gateway} {op['operationId']}"] = declared
    return ops


def main(argv):
    report_only, missing_file, required = False, None, []
    while len(argv) > 1 and argv[1].startswith("--"):
        if argv[1] == "--report-only":
            report_only, argv = True, argv[:1] + argv[2:]
        elif argv[1] == "--missing" and len(argv) > 2:
            missing_file, argv = argv[2], argv[:1] + argv[3:]
        elif argv[1] == "--require" and len(argv) > 2:
            required, argv = required + [argv[2]], argv[:1] + argv[3:]
        else:
            print(f"coverage.py: unknown option {argv[1]}", file=sys.stderr)
            return 2
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    success = declared_success(argv[2:])
    for name in required:
        success[name] = True
    cases = collections.Counter()
    ok = collections.Counter()
    ok_by_run = collections.defaultdict(collections.Counter)
    runs = []
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            run, op, status = parts
            op = f"{run.split('-')[0]} {op}"
            if run not in runs:
                runs.append(run)
            cases[op] += 1
            if status.startswith("2"):
                ok[op] += 1
                ok_by_run[op][run] += 1

    width = max([len(op) for op in cases] + [len("operation")])
    print(f"{'operation':<{width}}  {'cases':>6}  {'2xx':>6}  2xx by run")
    missing = []
    for op in sorted(cases):
        by_run = ", ".join(f"{run} {ok_by_run[op][run]}" for run in runs if ok_by_run[op][run])
        note = ""
        if ok[op] == 0 and success.get(op, False):
            note = "NEVER 2xx"
            missing.append(op)
        print(f"{op:<{width}}  {cases[op]:>6}  {ok[op]:>6}  {by_run or '-'} {note}".rstrip())
    for op in required:
        if op not in cases:
            print(f"{op:<{width}}  {0:>6}  {0:>6}  - NEVER FUZZED")
            missing.append(op)
    if missing_file:
        with open(missing_file, "w", encoding="utf-8") as f:
            f.writelines(op + "\n" for op in missing)
    if missing and report_only:
        print(f"coverage: REPORT ONLY (a budget below the gate's), no 2xx for {', '.join(missing)}")
        return 0
    if missing:
        print(f"coverage: FAIL, no 2xx for {', '.join(missing)}")
        return 1
    print(f"coverage: every one of the {len(cases)} operations fuzzed reached a success response")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
