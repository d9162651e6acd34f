#!/usr/bin/env bash
# Installs the Bicep CLI from NuGet (Azure.Bicep.CommandLine.linux-x64) into .tools/bicep/,
# where the infra test finds it. The package is not a .NET tool, so a throwaway project
# downloads it (PackageDownload) and the binary is copied out of the package folder.
set -euo pipefail
VERSION="${BICEP_VERSION:-0.49.2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/.tools/bicep"
if [ -x "$DEST/bicep" ] && "$DEST/bicep" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "bicep $VERSION already in $DEST"; exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/download.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$VERSION]" /></ItemGroup>
</Project>
XML
dotnet restore "$WORK/download.csproj" --packages "$WORK/packages" >/dev/null
mkdir -p "$DEST"
cp "$WORK/packages/azure.bicep.commandline.linux-x64/$VERSION/tools/bicep" "$DEST/bicep"
chmod +x "$DEST/bicep"
"$DEST/bicep" --version
