"""One module per ``jinshan`` command: its options, its checks, what it prints, its exit code."""
