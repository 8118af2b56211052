"""evtp.robust"""
