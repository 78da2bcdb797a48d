package main

import (
	"reflect"
	"testing"
)

func TestImplemented(t *testing.T) {
	got, err := implemented("testdata/bundle.json", "testdata/services")
	if err != nil {
		t.Fatal(err)
	}
	// deletePet is declared on another type, so the service still answers 501 for it.
	if want := []string{"create-pet", "listPets", "listPets"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCompleteTags(t *testing.T) {
	ops, err := scan("testdata/bundle.json", "testdata/services")
	if err != nil {
		t.Fatal(err)
	}
	// admin has the unimplemented deletePet; pets and owners are complete.
	if got, want := ops.completeTags(), []string{"owners", "pets"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestMissingService(t *testing.T) {
	if _, err := implemented("testdata/bundle.json", "testdata/none"); err == nil {
		t.Fatal("want an error when the service package is missing")
	}
}
