"""`python -m wavenet_core ...` is the `wavenet` command."""
import sys

from .cli import main

sys.exit(main())
