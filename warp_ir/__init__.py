"""warp-ir: the command line, the Hub-layout writer, statistics, the dataset card and publishing."""
