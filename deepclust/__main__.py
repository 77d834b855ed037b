"""python -m deepclust: the same as the deepclust command."""
from .cli import main

raise SystemExit(main())
