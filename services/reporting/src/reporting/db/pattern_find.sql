-- $1 a model's digest: the pattern chosen for it (zlib-compressed JSON), if any
SELECT pattern FROM release_patterns WHERE digest = $1
