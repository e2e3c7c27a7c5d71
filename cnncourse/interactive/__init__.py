"""What the book's interactive pages need from Python (the pages themselves are plain
JavaScript in ``book/_static/interactive/``): the lab's LeNet-5 weights exported for them
(``export``) and the drawing-to-digit steps they run, in numpy for the tests
(``preprocess``)."""
