"""The instructor side of the problem sets: nbgrader driven by ``cnncourse`` (see cli.py).

One module per job:

- ``course``      find the course folder, its assignments and its nbgrader settings;
- ``cells``       read nbgrader cell metadata (grade ids, test vs solution cells, parts);
- ``mutants``     load known-wrong answers and apply them to a source notebook;
- ``nbgrader_app`` run an nbgrader command in-process and capture its log;
- ``release``     student versions (``nbgrader generate_assignment``);
- ``solutions``   executed solution notebooks;
- ``sandbox``     the OS sandbox (bubblewrap) a submission's code runs in, and its limits;
- ``view``        the ``cnncourse`` the sandbox sees: the probe and the data, checker stubs;
- ``plan``        what the sandbox runs: the student's cells, and where each part is judged;
- ``session``     one notebook's run in the sandbox, driven from here with deadlines;
- ``judge``       the verdict on each test cell, computed here from the probe's plain data;
- ``policy``      the rules read from the source: forbidden functions, side doors;
- ``secret``      the course's secret the hidden cases are drawn from;
- ``replay``      nbgrader's autograde with the sandbox's outputs instead of a kernel;
- ``worker``      the worker process: one student in a private course, start to finish;
- ``warm``        what the workers' fork server imports once, so each worker starts warm;
- ``autograde``   one submission, start to finish, in its own sandbox (never raises);
- ``gradebook``   the single writer of the course's sqlite gradebook;
- ``grade``       a whole class: workers, progress, publishing results;
- ``report``      score table, grades.csv, per-part scores, the distribution plot;
- ``feedback``    an nbgrader preprocessor that keeps hidden tests out of feedback;
- ``verify``      source full marks, release zero, every mutant loses what it should.
"""
