"""`make run`: the whole product on one machine, each part as a child process."""
