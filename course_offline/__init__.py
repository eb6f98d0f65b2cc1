"""course_offline: the course's offline world, a local Hub of stand-ins.

Where there is no Hub (CI, a classroom behind a firewall), the lessons make the same calls with the
same Hub ids, and this package answers them:

- ``layout``     the real Hub repositories' layout, with the evidence for each fact: the one table
- ``builders``   the stand-in datasets and checkpoints, built on this machine in that layout
- ``store``      where built stand-ins live; Hub id + revision -> folder (the ``Replica``)
- ``server``     a read-only Hub-API server (standard library) for the Hugging Face clients
- ``local_hub``  start, find and stop that server on 127.0.0.1

Stand-ins are not the real datasets and models, and say so in their cards.
"""
