"""Lite: the whole of Leoflow on one machine, in one process tree, from one command."""
