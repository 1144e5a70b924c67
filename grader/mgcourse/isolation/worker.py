"""The process that runs a student's code: it answers probe requests, and decides nothing.

    python -m mgcourse.isolation.worker IMPL_FOLDER REQUEST_FD REPLY_FD

It imports the implementation, says whether that worked, then reads one JSON request per
line from REQUEST_FD ({"check": ID, "inputs": ...}) and writes one JSON reply per line to
REPLY_FD: {"observed": ...} with the probe's plain data, or {"error": [kind, message]}.
The pipes are its own, apart from stdin, stdout and stderr, so whatever the student's code
reads or prints cannot mix with the replies. The verdict is taken by the process that
started it (isolated.py), from these replies alone.
"""

import json
import os
import sys


def serve(folder, requests, replies):
    from mgcourse.battery import checks
    from mgcourse.battery.checks.base import PROBES, ProbeError, call_probe, local_call
    from mgcourse.battery.impl import ImplError, load

    me = os.getpid()

    def reply(message):
        if os.getpid() != me:  # a process the student's code forked: it never answers
            os._exit(0)
        replies.write(json.dumps(message) + '\n')
        replies.flush()

    try:
        impl = load(folder)
    except ImplError as e:
        reply({'import_error': {'message': e.message, 'filename': e.filename, 'lineno': e.lineno}})
        return
    reply({'ready': True})
    for line in requests:
        request = json.loads(line)
        try:
            if 'probe' in request:
                observed = call_probe(PROBES[request['probe']], impl, request['inputs'])
            else:
                observed = local_call(checks.REGISTRY[request['check']], impl)(request.get('inputs'))
            reply({'observed': observed})
        except ProbeError as e:
            reply({'error': [e.kind, e.message]})
        except (TypeError, ValueError) as e:  # an observation that is not plain data
            reply({'error': ['exception', f"the check could not report what it saw: {e}"]})


def main():
    folder, request_fd, reply_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with os.fdopen(request_fd, 'r') as requests, os.fdopen(reply_fd, 'w') as replies:
        serve(folder, requests, replies)


if __name__ == '__main__':
    main()
