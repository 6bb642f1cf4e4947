"""Evaluating a classifier on a release: per-cell errors, ImageNet-C's mCE, the Fourier heat map.

    models      MODEL specs (MODULE:FUNCTION, torchvision:NAME, timm:NAME) -> a classifier on [0, 1] images
    worker      EvalWorker: one shard -> its counts (the pool's unit of work)
    records     the resumable work area under RESULTS_DIR, and what it refuses
    selection   --cells wildcards
    metrics     errors per cell, CE, mCE and relative mCE (the AlexNet normalisers, with their source)
    plots       error by severity, the Fourier heat map (Yin et al. 2019 Fig. 2)
    results     results.json (written last), results.csv, report.md
    run         evaluate(): the job
"""
