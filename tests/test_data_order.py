"""data.serial_batches: training takes the images in file order, as the reference's --serial_batches does."""

from __future__ import annotations

from i2i_core import Engine, Trainer
from toy import ToyPlugin, toy_items


class Recorded(list):
    """A list dataset that remembers which items were read, in order."""

    def __init__(self, items: list) -> None:
        super().__init__(items)
        self.read: list[int] = []

    def __getitem__(self, index):  # type: ignore[override]
        self.read.append(index)
        return super().__getitem__(index)


def _order(serial: bool) -> list[int]:
    engine = Engine([ToyPlugin()], autoload=False, warn=False)
    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 10, "device": "cpu", "seed": 3},
                                                  "data": {"serial_batches": serial, "batch_size": 1}})
    data = Recorded(toy_items(5))
    Trainer(run.trainer, None, engine=engine, run_config=run, progress=False).fit(engine.build_recipe(run), data)
    return data.read


def test_serial_batches_trains_in_file_order():
    assert _order(True) == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


def test_default_order_is_shuffled_per_epoch():
    order = _order(False)
    assert sorted(order[:5]) == sorted(order[5:]) == [0, 1, 2, 3, 4]
    assert order[:5] != order[5:]  # a new permutation each epoch (seed 3: they differ)
    assert order[:5] != [0, 1, 2, 3, 4] or order[5:] != [0, 1, 2, 3, 4]
