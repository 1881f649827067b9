"""``python -m articles.demo`` serves the demo publishers until Ctrl-C."""

from articles.demo.server import main

main()
