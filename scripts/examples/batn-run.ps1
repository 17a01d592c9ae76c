<#
.SYNOPSIS
  batn run theo lịch trên Windows (Task Scheduler). Scheduled `batn run` on Windows.

.DESCRIPTION
  Chạy `python -m batn.run_cli run <Config>` (cùng lệnh với `batn run`), ghi nhật ký UTF-8 nếu có -Log,
  và trả lại đúng mã thoát: 0 xong; 1 xong nhưng số liệu nhận được có lỗi; 2 không chạy được.
  Xem docs/lich-chay.md. Đăng ký lịch bằng windows-task.xml:
    Register-ScheduledTask -TaskName 'batn-run' -Xml (Get-Content -Raw C:\batn\scripts\examples\windows-task.xml)

.EXAMPLE
  powershell -NoProfile -ExecutionPolicy Bypass -File C:\batn\scripts\examples\batn-run.ps1 `
      -Config C:\batn\batn-run.toml -Python C:\batn\venv\Scripts\python.exe -Log C:\batn\nhat_ky\run.log
#>
param(
    [Parameter(Mandatory = $true)][string] $Config,
    [string] $Python = $(if ($env:BATN_PYTHON) { $env:BATN_PYTHON } else { 'py' }),
    [string] $Log = $env:BATN_LOG,
    [switch] $Quiet
)

$env:PYTHONIOENCODING = 'utf-8'
$env:PYTHONUTF8 = '1'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false

$arguments = @('-m', 'batn.run_cli', 'run', $Config)
if ($Quiet) { $arguments += '--quiet' }

# Lỗi của chương trình ngoài (stderr) không được làm PowerShell dừng giữa chừng.
$ErrorActionPreference = 'Continue'
$started = Get-Date -Format 'yyyy-MM-dd HH:mm:ss'
$output = & $Python @arguments 2>&1 | ForEach-Object { "$_" }
$code = $LASTEXITCODE
$ended = Get-Date -Format 'yyyy-MM-dd HH:mm:ss'

$lines = @("=== $started batn run $Config") + $output + @("=== $ended mã thoát $code")
if ($Log) {
    $folder = Split-Path -Parent $Log
    if ($folder -and -not (Test-Path $folder)) { New-Item -ItemType Directory -Path $folder | Out-Null }
    $lines | Add-Content -Path $Log -Encoding UTF8
} else {
    $lines | Write-Output
}
exit $code
