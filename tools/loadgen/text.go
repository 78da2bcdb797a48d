package main

import "github.com/mediamesh/mediamesh/tools/internal/words"

// text is the vocabulary of the generated content and of the searches (see the -vocabulary flag).
var text = words.Fixed()
