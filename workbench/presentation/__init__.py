"""How every surface shows things: numbers and metric names (`numbers`), markdown that carries data
(`markdown`), and recorded runs as reports (`reports`)."""
