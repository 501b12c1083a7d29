"""The replay harness catches the generators' step-1 outputs (``store_fake_step1``) with forward hooks.

Recipes keep no per-step images, so the harness hooks the networks; this pins that the hooks catch
``G_A(A)`` and ``G_B(B)`` (not ``G_B(fake_B)``, G_B's first call) and leave the step unchanged.
"""

from __future__ import annotations

import copy

import torch

from parity import _common
from parity.cyclegan import _batches
from reference_parity import load_case, replay


def test_cyclegan_step1_outputs_are_the_generators_on_the_batch():
    case = load_case("jz_cyclegan_train")
    wanting = copy.deepcopy(case)
    wanting["outputs"].update(fake_B_step1=None, fake_A_step1=None)
    wanting["hyper"]["steps"] = 1  # step 1 is all the hooks look at
    caught = replay(wanting)
    for name, value in caught["losses"].items():  # the hooks only read
        assert value == case["losses"][name] or abs(value - case["losses"][name]) <= 1e-5 * abs(value) + 1e-6, name
    c, batch = case["config"], _batches(case)(0)
    for ref, key, source in (("netG_A", "fake_B_step1", "A"), ("netG_B", "fake_A_step1", "B")):
        g = _common.build_arch(c["netG"], input_nc=3, output_nc=3, ngf=c["ngf"], norm=c["norm"], use_dropout=False)
        g.load_state_dict(case["state_dict"][ref])
        with torch.no_grad():
            assert torch.equal(caught["outputs"][key], g.train()(batch[source])), key
