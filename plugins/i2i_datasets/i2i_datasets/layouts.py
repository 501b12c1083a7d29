"""The synthetic data set's layouts, in a module without torch: ``i2i data synth --help`` lists them."""

LAYOUTS = ("aligned", "unaligned", "labels")
