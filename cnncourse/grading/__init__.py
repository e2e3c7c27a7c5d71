"""The instructor side of the problem sets: nbgrader driven by ``cnncourse`` (see cli.py).

One module per job:

- ``course``      find the course folder, its assignments and its nbgrader settings;
- ``cells``       read nbgrader cell metadata (grade ids, test vs solution cells, parts);
- ``mutants``     load known-wrong answers and apply them to a source notebook;
- ``nbgrader_app`` run an nbgrader command in-process and capture its log;
- ``release``     student versions (``nbgrader generate_assignment``);
- ``solutions``   executed solution notebooks;
- ``sandbox``     the worker process: autograde + feedback for one student in a private course;
- ``trusted``     the clean re-run whose verdict is the grade (tampering undone and reported);
- ``limits``      time, memory, file, thread and network limits for one submission;
- ``kernel``      the kernel nbgrader starts: ipykernel inside those limits and an audit hook;
- ``execute``     nbgrader's Execute with a cap on each cell's output;
- ``warm``        what the workers' fork server imports once, so each worker starts warm;
- ``autograde``   one submission, start to finish, in its own sandbox (never raises);
- ``gradebook``   the single writer of the course's sqlite gradebook;
- ``grade``       a whole class: workers, progress, publishing results;
- ``report``      score table, grades.csv, per-part scores, the distribution plot;
- ``feedback``    an nbgrader preprocessor that keeps hidden tests out of feedback;
- ``verify``      source full marks, release zero, every mutant loses what it should.
"""
