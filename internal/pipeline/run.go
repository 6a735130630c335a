package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// Result is what a run did for each unit of its plan, stage by stage: a
// unit whose stage was not reached has that stage's fields zero. Run returns
// it with its error too, so that the outputs say what was done.
type Result struct {
	Plan  *Plan
	Units []*UnitResult
	// Carried is the path of the OCI archive written (Options.CarryPath);
	// "" when none was.
	Carried string
}

// UnitResult is what a run did for one attested image.
type UnitResult struct {
	*Unit
	// Target is the registry name the unit is bound to (the caller's, or
	// the image's RepoTag when defaulted); zero when nothing was bound.
	Target ref.Reference
	// Subject is the registry subject bound: the image, or the index and
	// its matched child.
	Subject   *registry.Subject
	Statement []byte
	Signed    *sign.Result
	// Bundle is the bundle's path; PublicKey the key-signed bundle's public
	// key file beside it ("" when keyless).
	Bundle    string
	PublicKey string
	// Attached is the referrer of Subject (the index, or the image);
	// AttachedImage the referrer of the platform manifest itself when
	// Subject is an index (nil otherwise).
	Attached      *registry.AttachResult
	AttachedImage *registry.AttachResult
	// GitHub is what the GitHub stage stored, or why it stored nothing.
	GitHub *GitHubResult
}

// run is one Run's state: its options, its reporter, the registry client
// once made, and the files written so far.
type run struct {
	opts   Options
	rep    Reporter
	client *registry.Client
	files  *files
	// several is true when the run attests more than one image.
	several bool
}

// Run binds, signs, writes and attaches every unit of p, one stage for
// every binding or unit before the next stage starts — so nothing is signed
// before every subject is bound (ARCHITECTURE.md, "Data flow"). The Result
// holds what was done even when Run fails; once some images were attached,
// the error says which were and which were not.
func Run(ctx context.Context, p *Plan, opts Options, rep Reporter) (*Result, error) {
	r := &run{opts: opts, rep: rep, files: newFiles(opts), several: len(p.Units) > 1}
	res := &Result{Plan: p}
	for _, u := range p.Units {
		res.Units = append(res.Units, &UnitResult{Unit: u})
	}
	if err := checkCarry(p, opts.CarryPath); err != nil {
		return res, err
	}
	for _, b := range p.Bindings {
		target, subjects, err := r.bind(ctx, b)
		for i, u := range b.Units {
			ur := res.Units[u.N]
			ur.Target = target
			if subjects != nil {
				ur.Subject = subjects[i]
			}
		}
		if err != nil {
			return res, res.unitError(b.Units[0], err)
		}
	}
	for _, stage := range []func(context.Context, *UnitResult) error{r.statement, r.sign, r.write} {
		for _, u := range res.Units {
			if err := stage(ctx, u); err != nil {
				return res, res.unitError(u.Unit, err)
			}
		}
	}
	for _, b := range p.Bindings {
		if u, err := r.attach(ctx, res.of(b)); err != nil {
			return res, res.unitError(u, err)
		}
	}
	if err := r.carry(ctx, res); err != nil {
		return res, res.unitError(p.Units[0], err)
	}
	for _, u := range res.Units {
		if err := r.store(ctx, u, res.of(u.Binding)); err != nil {
			return res, res.unitError(u.Unit, err)
		}
	}
	return res, nil
}

// of is the results of binding b's units.
func (res *Result) of(b *Binding) []*UnitResult {
	out := make([]*UnitResult, len(b.Units))
	for i, u := range b.Units {
		out[i] = res.Units[u.N]
	}
	return out
}

// unitError is err of unit u's stage; once images were attached, it says
// which were and which were not, so that a rerun is not a guess.
func (res *Result) unitError(u *Unit, err error) error {
	var done, notDone []string
	for _, o := range res.Units {
		if o.Attached != nil {
			done = append(done, o.Describe())
		} else {
			notDone = append(notDone, o.Describe())
		}
	}
	if len(done) == 0 || len(res.Units) == 1 {
		return err
	}
	return fmt.Errorf("%s: %w (attested and attached: %s; not attached: %s)", res.Units[u.N].Describe(), err, strings.Join(done, ", "), strings.Join(notDone, ", "))
}

// Describe names an attested image: registry name (or archive), platform.
func (u *UnitResult) Describe() string {
	var where string
	switch {
	case u.Subject != nil:
		where = u.Subject.Repository.Name() + "@" + display.Short(u.Subject.Image.Digest.String())
	case !u.Target.IsZero():
		where = u.Target.String()
	case !u.Binding.Target.IsZero():
		where = u.Binding.Target.String()
	default:
		where = filepath.Base(u.Archive.Path)
	}
	return where + " (" + DescribeImage(u.Image) + ")"
}
