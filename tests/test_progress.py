"""Plain progress lines (stdout not a terminal) show the last log point's losses and name their step."""

from __future__ import annotations

import re

from i2i_core import Engine, Trainer
from toy import ToyPlugin, toy_items


def test_plain_lines_name_the_step_their_losses_come_from(capsys):
    engine = Engine([ToyPlugin()], autoload=False, warn=False)
    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 10, "device": "cpu", "log_every": 4}})
    Trainer(run.trainer, None, engine=engine, run_config=run, progress=False).fit(engine.build_recipe(run),
                                                                                   toy_items(4))
    lines = {int(m.group(1)): m.group(2) for m in re.finditer(r"^step (\d+)/10 epoch \d+ (.*)$",
                                                              capsys.readouterr().out, re.M)}
    assert sorted(lines) == list(range(1, 11))
    assert lines[3].startswith("(")  # nothing logged yet: no losses at all
    assert re.match(r"L1=\d+\.\d{3} \(", lines[4])  # its own losses, unlabelled
    assert re.match(r"\[step 4\] L1=", lines[5]) and re.match(r"\[step 4\] L1=", lines[7])
    assert re.match(r"L1=", lines[8])
