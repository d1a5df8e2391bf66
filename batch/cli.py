"""`symbl-batch`: the command line. For now: `emulator` (standalone emulator) and `demo` (corpus on the
embedded emulator). The batch engine issue adds `run`, `status` and the rest."""

from __future__ import annotations

import argparse
import sys

from batch.emulator.cli import main as emulator_main
from batch.emulator.demo import main as demo_main

USAGE = """symbl-batch COMMAND [ARGS]

commands:
  emulator [OPTIONS]   run the Symbl API emulator standalone (see `symbl-batch emulator --help`)
  demo                 play the whole speech corpus through the embedded emulator and print the transcripts
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "emulator":
        return emulator_main(rest)
    if command == "demo":
        return demo_main()
    parser = argparse.ArgumentParser(prog="symbl-batch", usage=USAGE)
    parser.error(f"unknown command '{command}'; valid commands: emulator, demo")
    return 2
