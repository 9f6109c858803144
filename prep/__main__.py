"""Allows `python -m prep`."""

from prep.cli import main

main()
