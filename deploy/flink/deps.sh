#!/usr/bin/env bash
# Puts what a Flink cluster for feedlake needs in CACHE (default .cache/flink), once; a rerun
# that finds both does nothing:
#   flink-1.19.3/    Flink's bin/, conf/ and lib/, from PyPI's apache-flink and
#                    apache-flink-libraries, installed without dependencies outside feedlake's
#                    environment (PyFlink pins an older apache-beam);
#   beam-runners-flink-1.19-job-server-2.70.0.jar
#                    Beam's Flink job server, built by Maven from pom.xml beside this file.
# PYTHON names the python whose pip installs Flink (default python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-.cache/flink}
flink_version=1.19.3
jar=beam-runners-flink-1.19-job-server-2.70.0.jar
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

if [ ! -x "$cache/flink-$flink_version/bin/jobmanager.sh" ]; then
    rm -rf "$cache/pypi.partial" "$cache/flink-$flink_version"
    "${PYTHON:-python3}" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$cache/pypi.partial" \
        "apache-flink==$flink_version" "apache-flink-libraries==$flink_version"
    mv "$cache/pypi.partial/pyflink" "$cache/flink-$flink_version"
    rm -rf "$cache/pypi.partial"
fi

if [ ! -s "$cache/$jar" ]; then
    rm -rf "$cache/job-server.partial"
    mvn --batch-mode --quiet -f "$here/pom.xml" -Dout.dir="$cache/job-server.partial" package
    mv "$cache/job-server.partial/$jar" "$cache/$jar"
    rm -rf "$cache/job-server.partial"
fi
echo "flink deps in $cache: flink-$flink_version/, $jar"
