"""Back ends: the IR as a torch module in memory and as Python source."""
