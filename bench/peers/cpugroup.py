"""The CPU time of one system's processes alone, from a cgroup of its
own: the machine's /proc/stat counts whatever else runs on it too (other
engineers' tests on a shared machine), a cgroup counts only the
processes started inside it and their descendants, short-lived ones
(a process per message) included.

cgroup v1's cpuacct controller (cpuacct.usage, ns) or cgroup v2 (cpu.stat
usage_usec); where neither can be made, None, and only /proc/stat's
figure is printed."""
import contextlib
import os
import time

V1 = "/sys/fs/cgroup/cpuacct"
V2 = "/sys/fs/cgroup"


def _own_path(controller):
    """This process's cgroup in the v1 hierarchy holding controller, or
    in v2 (controller "")."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(",") or ctrls == controller:
                return path
    return "/"


class CPUGroup:
    def __init__(self, name):
        self.dir = None
        if os.path.exists(os.path.join(V1, "cpuacct.usage")):
            self.kind, top = "v1", V1
            self.home = os.path.join(V1, _own_path("cpuacct").lstrip("/"))
        elif os.path.exists(os.path.join(V2, "cgroup.controllers")):
            self.kind, top = "v2", V2
            self.home = os.path.join(V2, _own_path("").lstrip("/"))
        else:
            return
        d = os.path.join(top, name)
        try:
            if not os.path.isdir(d):
                os.mkdir(d)
            self.dir = d
        except OSError:
            self.dir = None

    def __bool__(self):
        return self.dir is not None

    def seconds(self):
        if self.kind == "v1":
            with open(os.path.join(self.dir, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        with open(os.path.join(self.dir, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) / 1e6
        return 0.0

    @contextlib.contextmanager
    def inside(self):
        """This process in the group for the block (what it starts there
        stays there), then back where it was."""
        if not self:
            yield
            return
        try:
            with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:     # v2 may refuse (a parent with controllers)
            self.dir = None
            yield
            return
        try:
            yield
        finally:
            with open(os.path.join(self.home, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def remove(self, wait=15):
        """Removes the group once its processes have ended (daemons' stop
        commands return before the daemons do), waiting at most wait s;
        a group left behind (a zombie in it) is harmless and reused."""
        if not self.dir:
            return
        deadline = time.time() + wait
        while time.time() < deadline:
            with open(os.path.join(self.dir, "cgroup.procs")) as f:
                if not f.read().strip():
                    break
            time.sleep(0.2)
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
