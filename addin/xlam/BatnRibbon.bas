Attribute VB_Name = "BatnRibbon"
' batn: callbacks of the "3 Trach nhiem" ribbon tab (addin/xlam/customUI.xml).
'
' Each button runs one Python entry point of batn.excel.buttons through RunPython, from the
' xlwings module of this add-in (xlwings' custom add-in module, PROJECT_NAME "batn"). The Python
' side reads the active workbook (xw.Book.caller()) and shows its own message box.
' Keep this file ASCII: the VBA project is written with code page 1252.
Option Explicit

Sub KiemTra(control As IRibbonControl)
    RunPython "import batn.excel.buttons as b; b.kiem_tra()"
End Sub

Sub TongHop(control As IRibbonControl)
    RunPython "import batn.excel.buttons as b; b.tong_hop()"
End Sub

Sub XuatBaoCao(control As IRibbonControl)
    RunPython "import batn.excel.buttons as b; b.xuat_bao_cao()"
End Sub

Sub TaoBieuMau(control As IRibbonControl)
    RunPython "import batn.excel.buttons as b; b.tao_bieu_mau()"
End Sub

Sub TraLai(control As IRibbonControl)
    RunPython "import batn.excel.buttons as b; b.tra_lai()"
End Sub

Sub Duyet(control As IRibbonControl)
    RunPython "import batn.excel.buttons as b; b.duyet()"
End Sub
