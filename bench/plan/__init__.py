"""Planning: which images (``datasets``, fetched and verified through ``archives``, read by
``images``) and which tasks (``tasks``: every image x codec x rate keyed up front; ``rate_search``
for matched-rate tasks). Nothing here encodes an image.
"""
