"""`python -m codellama_lsp.server`: the same as the `codellama-lsp` command."""

import sys

from .cli import main

sys.exit(main())
