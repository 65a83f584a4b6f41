"""The counting engine: what is counted, the kept counts, filling closed time, following open time, reading."""
