package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The checks below are the one vocabulary every command uses to validate
// its flags before any heavy work (loading data or models, key generation).
// Each returns nil or an errUsage error that names the flag, the value it
// got and the values it accepts, so that every command reads the same:
//
//	krelu train: --lr -1: want a finite number > 0
//
// A bad value is never replaced by a default. Commands collect the checks
// in one validate step and return the first failure with firstErr.

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// flagErr is the common form of a flag error.
func flagErr(name string, value any, want string) error {
	return fmt.Errorf("%w: %s %v: want %s", errUsage, dashed(name), value, want)
}

// dashed spells a flag as docs/cli.md does: -o, --model.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// intRange checks lo ≤ v ≤ hi.
func intRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return flagErr(name, v, fmt.Sprintf("an integer in [%d, %d]", lo, hi))
	}
	return nil
}

// intRangeOrZero checks v = 0 (the flag's "off/all" meaning, said in
// zero) or lo ≤ v ≤ hi.
func intRangeOrZero(name string, v, lo, hi int, zero string) error {
	if v != 0 && (v < lo || v > hi) {
		return flagErr(name, v, fmt.Sprintf("0 (%s) or an integer in [%d, %d]", zero, lo, hi))
	}
	return nil
}

// finite checks that v is neither NaN nor ±Inf.
func finite(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return flagErr(name, v, "a finite number")
	}
	return nil
}

// positiveFloat checks 0 < v < ∞.
func positiveFloat(name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return flagErr(name, v, "a finite number > 0")
	}
	return nil
}

// nonNegFloat checks 0 ≤ v < ∞.
func nonNegFloat(name string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return flagErr(name, v, "a finite number ≥ 0")
	}
	return nil
}

// floatRange checks v in the interval from lo to hi; openLo/openHi exclude
// the end points.
func floatRange(name string, v, lo, hi float64, openLo, openHi bool) error {
	ok := !math.IsNaN(v) && (v > lo || !openLo && v == lo) && (v < hi || !openHi && v == hi)
	if !ok {
		l, r := "[", "]"
		if openLo {
			l = "("
		}
		if openHi {
			r = ")"
		}
		return flagErr(name, v, fmt.Sprintf("a number in %s%g, %g%s", l, lo, hi, r))
	}
	return nil
}

// oneOf checks that v is one of allowed (exactly as spelled).
func oneOf(name, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return flagErr(name, strconv.Quote(v), "one of "+strings.Join(allowed, ", "))
}

// durationRange checks lo ≤ v ≤ hi.
func durationRange(name string, v, lo, hi time.Duration) error {
	if v < lo || v > hi {
		return flagErr(name, v, fmt.Sprintf("a duration in [%v, %v]", lo, hi))
	}
	return nil
}

// required checks that a string flag was given.
func required(name, v, what string) error {
	if v == "" {
		return fmt.Errorf("%w: %s %s is required", errUsage, dashed(name), what)
	}
	return nil
}

// logNFlag is the help text of --logn, the same in every command.
const logNHelp = "CKKS ring degree log2: 13, 14, 15 or 16 (krelu's 128-bit presets), or 0 for the smallest that fits"

// checkLogN accepts 0 (the smallest preset that fits) or a preset's LogN.
// Rings below 2^13 are not offered: at 128-bit security a 2^12 ring allows
// log2(QP) ≤ 109 bits, two levels at most — fewer than any krelu model
// needs; above 2^16 the homomorphic encryption standard gives no bound.
func checkLogN(logN int) error {
	if logN != 0 && (logN < 13 || logN > 16) {
		return flagErr("logn", logN, "0 (the smallest preset that fits) or 13, 14, 15, 16 "+
			"(128-bit presets; 2^12 allows log2 QP ≤ 109 bits, too few levels for any model)")
	}
	return nil
}

// hiddenPrefix marks the usage text of deprecated aliases: setUsage does
// not print them.
const hiddenPrefix = "\x00"

// alias registers old as a hidden, deprecated spelling of the flag name,
// which must already be defined. Aliases stay for one release.
func alias(fs *flag.FlagSet, old, name string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("krelu: alias of undefined flag " + name)
	}
	fs.Var(f.Value, old, hiddenPrefix+"deprecated spelling of --"+name)
}

// boolValue reports whether a flag.Value is a switch (takes no argument).
func isBoolFlag(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// needs returns an error when the flag name was given without the flag
// other it only makes sense with (have = whether other is in effect).
func needs(fs *flag.FlagSet, name string, have bool, other string) error {
	if isSet(fs, name) && !have {
		return fmt.Errorf("%w: %s must come with %s (it has no effect without it)", errUsage, dashed(name), other)
	}
	return nil
}
