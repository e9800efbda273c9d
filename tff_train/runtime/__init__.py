"""TFF runtime: importing TFF, its worker processes, remote execution on workers."""
