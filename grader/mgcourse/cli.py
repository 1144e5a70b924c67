"""The `mgcourse` command: a thin layer over the library.

    mgcourse skeleton            regenerate micrograd_skeleton/ from solutions/
    mgcourse skeleton --check    exit 1 if the committed skeleton differs from the solutions
"""

import argparse
import sys

from . import paths, skeleton


def cmd_skeleton(args):
    if args.check:
        stale = skeleton.drift()
        if stale:
            print(f"micrograd_skeleton/ is out of date: {', '.join(stale)}. "
                  "Run `mgcourse skeleton` and commit the result.")
            return 1
        print("micrograd_skeleton/ matches solutions/.")
        return 0
    names = skeleton.write()
    print(f"wrote {len(names)} files to {paths.SKELETON}: {', '.join(names)}")
    return 0


def parser():
    p = argparse.ArgumentParser(prog='mgcourse', description="The micrograd course's tools.")
    sub = p.add_subparsers(dest='command', required=True)
    s = sub.add_parser('skeleton', help='generate micrograd_skeleton/ from solutions/')
    s.add_argument('--check', action='store_true',
                   help='only compare: exit 1 when the skeleton is out of date')
    s.set_defaults(func=cmd_skeleton)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except skeleton.SkeletonError as e:
        print(f"mgcourse: {e}", file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
