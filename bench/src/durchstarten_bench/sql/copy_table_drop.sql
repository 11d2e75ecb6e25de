DROP TABLE bench_copy
