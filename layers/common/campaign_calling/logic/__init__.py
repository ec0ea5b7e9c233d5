"""Domain logic: one service per area, each taking its repositories and clients."""
