package samplecatalog

import (
	"errors"

	"github.com/omnirank/omnirank/internal/option"
)

// Sentinel errors; wrapped errors say which file or tool.
var (
	// ErrToolMissing: a program the build runs (npm, espeak-ng, sox) is
	// not installed. The message names the Debian package.
	ErrToolMissing = errors.New("samplecatalog: required tool missing")
	// ErrChecksum: the emoji tarball is not the pinned one.
	ErrChecksum = errors.New("samplecatalog: checksum mismatch")
	// ErrSource: the emoji package's content is not what this package
	// expects.
	ErrSource = errors.New("samplecatalog: bad emoji source")
	// ErrInvalidOption: an option's value is out of range.
	ErrInvalidOption = option.ErrInvalid
	// ErrOutputNotOurs: the output folder holds files this package did not
	// write; it is left alone.
	ErrOutputNotOurs = errors.New("samplecatalog: output folder not made by samplecatalog")
	// ErrBadCatalog: a catalogue folder cannot be read back.
	ErrBadCatalog = errors.New("samplecatalog: bad catalogue")
)
