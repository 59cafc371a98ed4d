"""The command line's dispatch: a command loads only its own module (a class's
grade starts one process per submission), and a bad or missing command still
gets the usage that lists them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mallocsim.cli import COMMANDS, main


def test_a_command_loads_only_its_own_module():
    probe = (
        "import sys\n"
        "from mallocsim.cli import main\n"
        "try:\n"
        "    main(['grade', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('mallocsim.commands.')))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines()[-1] == "['mallocsim.commands.grade']"


@pytest.mark.parametrize("argv", [["bogus"], []])
def test_a_bad_or_missing_command_gets_the_usage_naming_every_command(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mallocsim")
    if argv:
        assert all(f"'{name}'" in err for name in COMMANDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--no-such-option"],
        ["replay", "x.rep", "--no-such-option", "0"],  # the command's own arguments all there
        ["gen", "strings", "-o", "x.rep", "--no-such-option"],
        ["run", "--no-such-option", "--", "true"],
        ["gradebook"],
    ],
)
def test_an_unknown_option_is_named_by_its_command_with_that_command_usage(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: mallocsim {argv[0]} ")
    assert f"mallocsim {argv[0]}: error: " in err
