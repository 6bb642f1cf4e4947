"""Publishing a release: the metadata written with it (the dataset card, Croissant, CITATION.cff,
the shard lists of timm, open_clip and wids, the preview grid) and copies to object storage.

    metadata    every metadata file of a release, written just before its manifest commits it
    shardlists  per cell: _info.json (timm), sizes.json (open_clip), shardindex.json (wids)
    card        README.md: the dataset card with its Hugging Face YAML header
    croissant   croissant.json (Croissant 1.0 JSON-LD)
    citation    CITATION.cff
    preview     the PNG grid of corruptions x variants (preview.png, `corrupter preview`)
    copy        `corrupter publish`: a finished release copied, checked, create-once, manifest last
"""
