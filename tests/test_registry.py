import pytest

from i2i_core import (
    DuplicateNameError,
    Registry,
    UnknownNameError,
    hookimpl,
    register_presets,
    register_table,
    set_reader_channels,
)


def test_add_get_build_and_aliases():
    r = Registry("architecture")
    r.add("unet_256", lambda **kw: ("unet", kw), description="U-Net", aliases=("unet256",), plugin="p")
    assert r.get("unet_256") is r.get("unet256")
    assert r.build("unet_256", ngf=8) == ("unet", {"ngf": 8})
    assert "unet256" in r and "nope" not in r
    assert r.entry("unet_256").plugin == "p"


def test_wildcard_natural_sort_and_exclude():
    r = Registry("architecture")
    for name in ("resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128", "basic"):
        r.add(name, object())
    assert r.list("resnet*") == ["resnet_6blocks", "resnet_9blocks"]
    assert r.list("unet*") == ["unet_128", "unet_256"]
    assert r.list(exclude=["unet*", "res*"]) == ["basic"]
    assert list(r) == r.list() and len(r) == 5


def test_unknown_name_suggests():
    r = Registry("recipe")
    r.add("pix2pixhd", object())
    r.add("pix2pix", object())
    with pytest.raises(UnknownNameError) as err:
        r.get("pix2pxhd")
    msg = str(err.value)
    assert msg.startswith("Unknown recipe 'pix2pxhd'. Did you mean: pix2pixhd")
    assert "Installed: pix2pix, pix2pixhd" in msg


def test_duplicate_names_both_plugins():
    r = Registry("loss")
    r.add("gan", object(), plugin="first")
    with pytest.raises(DuplicateNameError, match="first.*second"):
        r.add("gan", object(), plugin="second")
    r.add("gan", 1, plugin="second", replace=True)
    assert r.get("gan") == 1


def test_empty_name_rejected():
    with pytest.raises(TypeError):
        Registry("x").add("", object())


def test_entries_have_typed_fields_and_a_read_only_meta():
    from i2i_core.registry.plugins import make_plugin_manager
    from i2i_core.registry.registries import build_registries

    class P:
        @hookimpl
        def register_architectures(self, register):
            register("g", dict, role="discriminator", description="d")

        @hookimpl
        def register_presets(self, register):
            register("r", "small", {"model": {}})

        @hookimpl
        def register_datasets(self, register):
            register("inputs", list, training=False)

    pm = make_plugin_manager(autoload=False, plugins=[P()])[0]
    regs = build_registries(pm)
    g = regs.architectures.entry("g")
    assert (g.role, g.description, g.plugin is not None, g.training) == ("discriminator", "d", True, True)
    preset = regs.presets.lookup("r", "small")
    assert (preset.recipe, preset.preset) == ("r", "small")
    assert regs.datasets.entry("inputs").training is False
    assert dict(g.meta) == {"role": "discriminator"} and dict(preset.meta) == {"recipe": "r", "preset": "small"}
    with pytest.raises(TypeError):
        g.meta["role"] = "generator"  # type: ignore[index]
    # a bad role is the plugin's error: recorded and reported by `i2i plugins`, the others keep working
    bad = build_registries(make_plugin_manager(autoload=False, plugins=[_BadRole()])[0])
    assert "x" not in bad.architectures and "role must be one of" in str(bad.errors[0][2])


class _BadRole:
    @hookimpl
    def register_architectures(self, register):
        register("x", dict, role="critic")


class _Tables:
    """A plugin registering through the core's table helpers, as the bundled ones do."""

    @hookimpl
    def register_architectures(self, register):
        register_table(register, {"g1": (dict, "first"), "g2": (list, "second")}, role="generator")

    @hookimpl
    def register_presets(self, register):
        register_presets(register, "r", {"fast": ({"trainer": {"max_steps": 1}}, "one step")})


def test_registration_tables_keep_order_descriptions_and_options():
    from i2i_core.registry.plugins import make_plugin_manager
    from i2i_core.registry.registries import build_registries

    regs = build_registries(make_plugin_manager(autoload=False, plugins=[_Tables()])[0])
    rows = [(e.name, e.obj, e.description, e.role) for e in regs.architectures.entries()]
    assert rows == [("g1", dict, "first", "generator"), ("g2", list, "second", "generator")]
    fast = regs.presets.lookup("r", "fast")
    assert (fast.obj, fast.description) == ({"trainer": {"max_steps": 1}}, "one step")
    assert [e.preset for e in regs.presets.for_recipe("r")] == ["fast"]  # no "fast_ema" twin
    with pytest.raises(UnknownNameError, match=r"^preset 'fast_ema' is gone: use --preset fast --ema"):
        regs.presets.lookup("r", "fast_ema")
    with pytest.raises(UnknownNameError, match="Unknown preset 'slow_ema'"):  # no stem: the usual message
        regs.presets.lookup("r", "slow_ema")


def test_set_reader_channels_marks_one_channel_keys_grayscale():
    class Reader:
        grayscale: set = set()
        channels: dict = {}

    reader = set_reader_channels(Reader(), {"A": 1, "B": 3})
    assert (reader.grayscale, reader.channels) == ({"A"}, {"A": 1, "B": 3})
    colour = set_reader_channels(Reader(), {"A": 3, "B": 3})
    assert (colour.grayscale, colour.channels) == (set(), {"A": 3, "B": 3})
    plain = object()
    assert set_reader_channels(plain, {"A": 1}) is plain  # a reader without the attributes is left alone
